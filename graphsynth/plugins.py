"""``--load-pass-plugin``: import the pass libraries a user names on the command line.

As ``mlir-opt --load-pass-plugin`` loads a shared library whose passes register themselves, a
plugin here is a Python file or a dotted module name whose import registers passes (``@register``).
Only names the user typed are imported, never anything read from IR or a transcript.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence


class PluginError(Exception):
    """A plugin that cannot be found or raised while loading: one line naming it."""


_PLUGINS: dict[str, object] = {}


def load_pass_plugins(specs: Sequence[str]) -> None:
    """Import each plugin named on the command line: the path of a Python file or a dotted module
    name, whose import registers passes (``@register``), as ``mlir-opt --load-pass-plugin``
    loads a pass library.  Only names the user typed are imported, never anything read from IR
    or a transcript.  A plugin that cannot be found or raises is a usage error naming it."""
    import importlib
    import importlib.util
    import traceback
    from pathlib import Path

    for spec in specs:
        if spec in _PLUGINS:
            continue
        path = Path(spec)
        is_file = spec.endswith(".py") or "/" in spec or "\\" in spec or path.exists()
        try:
            if is_file:
                if not path.is_file():
                    raise PluginError(f"--load-pass-plugin: no such file '{spec}'")
                name = f"graphsynth_pass_plugin_{len(_PLUGINS)}_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
                mod_spec = importlib.util.spec_from_file_location(name, path)
                if mod_spec is None or mod_spec.loader is None:
                    raise PluginError(f"--load-pass-plugin: cannot load '{spec}' as a Python module")
                module = importlib.util.module_from_spec(mod_spec)
                # Files beside the plugin stay importable from it.
                sys.path.insert(0, str(path.resolve().parent))
                sys.modules[name] = module
                mod_spec.loader.exec_module(module)
            else:
                module = importlib.import_module(spec)
        except PluginError:
            raise
        except ModuleNotFoundError as e:
            if is_file or e.name is None or not spec.startswith(e.name):
                raise PluginError(_plugin_failure(spec, e, traceback)) from None
            raise PluginError(f"--load-pass-plugin: no module named '{spec}' (give a path to load a file)") from None
        except (Exception, SystemExit) as e:
            raise PluginError(_plugin_failure(spec, e, traceback)) from None
        _PLUGINS[spec] = module


def _plugin_failure(spec: str, e: BaseException, traceback_module) -> str:
    """One line: the plugin, the exception, and where in the plugin's code it was raised."""
    where = ""
    if isinstance(e, SyntaxError) and e.filename:
        where = f" at {e.filename}:{e.lineno}"
    else:
        frames = traceback_module.extract_tb(e.__traceback__)
        ours = [f for f in frames if f.filename != __file__ and "importlib" not in f.filename]
        if ours:
            where = f" at {ours[-1].filename}:{ours[-1].lineno}"
    return f"--load-pass-plugin: '{spec}' raised {type(e).__name__}: {e}{where}"
