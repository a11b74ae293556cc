"""Small real models with random weights, for tests, examples and benchmarks.

Each factory returns ``(model, example_inputs, dynamic_dims)``, the three arguments of
``graphsynth.import_torch`` (and what ``graphsynth-import examples/models.py:gpt2`` expects).
Models are built from a config with random weights (``Config(...)`` + ``_from_config``): nothing
is downloaded.  ``return_dict=False`` goes in the example inputs, because setting it on the
config breaks head models such as GPT2LMHeadModel.
"""

from __future__ import annotations

from typing import Any

import torch

FACTORIES = ("gpt2", "bert", "vit", "resnet", "llama", "t5", "albert", "audio_encoder", "mobilenet_v2", "swin",
             "mixtral", "fnet")


def _quiet() -> Any:
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers


def gpt2(layers: int = 2, hidden: int = 64, heads: int = 4, vocab: int = 128, positions: int = 64, batch: int = 2, seq: int = 8) -> tuple:
    """GPT2LMHeadModel (Conv1D projections as addmm, causal mask built from cumsum/index)."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.GPT2Config(n_layer=layers, n_embd=hidden, n_head=heads, vocab_size=vocab, n_positions=positions, bos_token_id=0, eos_token_id=0)
    model = T.GPT2LMHeadModel._from_config(cfg).eval()
    inputs = {"input_ids": torch.randint(0, vocab, (batch, seq)), "use_cache": False, "return_dict": False}
    return model, inputs, {"input_ids": {0: "B", 1: "S"}}


def bert(layers: int = 2, hidden: int = 64, heads: int = 4, vocab: int = 128, positions: int = 64, batch: int = 2, seq: int = 8) -> tuple:
    """BertModel with an attention mask (padding mask expanded to 4-d, pooler on token 0)."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.BertConfig(
        num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, intermediate_size=2 * hidden,
        vocab_size=vocab, max_position_embeddings=positions,
    )
    model = T.BertModel._from_config(cfg).eval()
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[0, seq // 2 :] = 0
    inputs = {"input_ids": torch.randint(0, vocab, (batch, seq)), "attention_mask": mask, "return_dict": False}
    return model, inputs, {"input_ids": {0: "B", 1: "S"}, "attention_mask": {0: "B", 1: "S"}}


def vit(layers: int = 2, hidden: int = 64, heads: int = 4, image: int = 32, patch: int = 8, batch: int = 2) -> tuple:
    """ViTModel (patch conv, class token concat, position embeddings of a fixed image size)."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.ViTConfig(
        num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, intermediate_size=2 * hidden,
        image_size=image, patch_size=patch,
    )
    model = T.ViTModel._from_config(cfg).eval()
    inputs = {"pixel_values": torch.randn(batch, 3, image, image), "return_dict": False}
    return model, inputs, {"pixel_values": {0: "B"}}


def resnet(image: int = 32, batch: int = 2, dynamic_hw: bool = False) -> tuple:
    """ResNetModel, basic blocks (conv, batch norm, max pool, residual add_, adaptive pool)."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], layer_type="basic")
    model = T.ResNetModel._from_config(cfg).eval()
    inputs = {"pixel_values": torch.randn(batch, 3, image, image), "return_dict": False}
    dims: dict[int, str] = {0: "B"}
    if dynamic_hw:
        dims.update({2: "H", 3: "W"})
    return model, inputs, {"pixel_values": dims}


def llama(layers: int = 2, hidden: int = 64, heads: int = 4, kv_heads: int = 2, vocab: int = 128, positions: int = 64, batch: int = 2, seq: int = 8) -> tuple:
    """LlamaForCausalLM: RMSNorm, rotary embeddings (inside wrap_with_set_grad_enabled), GQA, SiLU MLP."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.LlamaConfig(
        num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, num_key_value_heads=kv_heads,
        intermediate_size=2 * hidden, vocab_size=vocab, max_position_embeddings=positions,
    )
    model = T.LlamaForCausalLM._from_config(cfg).eval()
    inputs = {"input_ids": torch.randint(0, vocab, (batch, seq)), "use_cache": False, "return_dict": False}
    return model, inputs, {"input_ids": {0: "B", 1: "S"}}


def t5(layers: int = 1, hidden: int = 32, heads: int = 2, vocab: int = 64, batch: int = 2, seq: int = 8, target: int = 6) -> tuple:
    """T5ForConditionalGeneration: one embedding shared by encoder, decoder and lm_head (a group of
    four tied state_dict keys), relative position buckets, encoder-decoder attention."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.T5Config(
        vocab_size=vocab, d_model=hidden, d_kv=hidden // heads, d_ff=2 * hidden, num_layers=layers,
        num_decoder_layers=layers, num_heads=heads, decoder_start_token_id=0, pad_token_id=0, tie_word_embeddings=True,
    )
    model = T.T5ForConditionalGeneration._from_config(cfg).eval()
    inputs = {
        "input_ids": torch.randint(0, vocab, (batch, seq)),
        "decoder_input_ids": torch.randint(0, vocab, (batch, target)),
        "use_cache": False,
        "return_dict": False,
    }
    return model, inputs, {"input_ids": {0: "B", 1: "S"}, "decoder_input_ids": {0: "B", 1: "T"}}


def albert(layers: int = 3, hidden: int = 32, heads: int = 2, vocab: int = 64, positions: int = 64, batch: int = 2, seq: int = 8) -> tuple:
    """AlbertForMaskedLM: one layer's weights shared by every layer (one module called three
    times), factorised embeddings, and the decoder tied to the word embeddings."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.AlbertConfig(
        vocab_size=vocab, embedding_size=16, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=2 * hidden, max_position_embeddings=positions,
    )
    model = T.AlbertForMaskedLM._from_config(cfg).eval()
    inputs = {"input_ids": torch.randint(0, vocab, (batch, seq)), "return_dict": False}
    return model, inputs, {"input_ids": {0: "B", 1: "S"}}


class AudioEncoder(torch.nn.Module):
    """A wav2vec2-style feature encoder over raw samples: a pre-emphasis of length S-1 and a
    strided convolution stack whose output length is (S-400)//320+1 (receptive field 400,
    stride 320), then a projection.  Defined here rather than taken from transformers so that
    it needs no download and no audio-specific config."""

    def __init__(self, channels: int = 8, features: int = 4):
        super().__init__()
        kernels = [(10, 5)] + [(3, 2)] * 4 + [(2, 2)] * 2
        convs = []
        cin = 1
        for k, s in kernels:
            convs.append(torch.nn.Conv1d(cin, channels, k, stride=s))
            cin = channels
        self.convs = torch.nn.ModuleList(convs)
        self.norm = torch.nn.LayerNorm(channels)
        self.proj = torch.nn.Linear(channels, features)

    def forward(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emphasised = samples[:, 1:] - 0.97 * samples[:, :-1]
        ramp = torch.arange(samples.shape[1] - 1, dtype=samples.dtype, device=samples.device) * 1e-3
        h = samples.unsqueeze(1)
        for conv in self.convs:
            h = torch.nn.functional.gelu(conv(h))
        return self.proj(self.norm(h.transpose(1, 2))), emphasised * ramp


def audio_encoder(batch: int = 2, samples: int = 1600, min_samples: int = 720, max_samples: int = 4000) -> tuple:
    """AudioEncoder with the sample dim given as ``Dim("S", min=720, max=4000)``: the range
    makes ``arange(S-1)`` and the conv stack's lengths provably positive.  (torch.export itself
    needs every conv output to be at least 2 long here, hence 720 rather than 400.)"""
    from torch.export import Dim

    torch.manual_seed(0)
    model = AudioEncoder().eval()
    inputs = {"samples": torch.randn(batch, samples)}
    return model, inputs, {"samples": {0: "B", 1: Dim("S", min=min_samples, max=max_samples)}}


def mobilenet_v2(image: int = 32, batch: int = 2) -> tuple:
    """MobileNetV2ForImageClassification (ReLU6, depthwise convs, an in-place dropout head)."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.MobileNetV2Config(image_size=image, depth_multiplier=0.35, num_labels=5)
    model = T.MobileNetV2ForImageClassification._from_config(cfg).eval()
    inputs = {"pixel_values": torch.randn(batch, 3, image, image), "return_dict": False}
    return model, inputs, {"pixel_values": {0: "B"}}


def swin(image: int = 32, batch: int = 2) -> tuple:
    """SwinModel with dynamic height and width (window partition, padding to the window size,
    shifted windows, patch merging).  Sizes are multiples of 16 (patch 4 x window 2 x one patch
    merging), the divisibility export needs to keep both dims dynamic: ``H = 16*H16``."""
    from torch.export import Dim

    T = _quiet()
    torch.manual_seed(0)
    cfg = T.SwinConfig(image_size=image, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=2)
    model = T.SwinModel._from_config(cfg).eval()
    inputs = {"pixel_values": torch.randn(batch, 3, image, image), "return_dict": False}
    return model, inputs, {"pixel_values": {0: "B", 2: 16 * Dim("H16", min=1, max=64), 3: 16 * Dim("W16", min=1, max=64)}}


def mixtral(layers: int = 1, hidden: int = 32, heads: int = 4, kv_heads: int = 2, experts: int = 4, vocab: int = 64, batch: int = 2, seq: int = 8) -> tuple:
    """MixtralForCausalLM, top-2 of 4 experts, with the ``batched_mm`` experts (each token
    gathers its experts' weights, then bmm), the form of mixture-of-experts torch.export takes."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.MixtralConfig(
        num_hidden_layers=layers, hidden_size=hidden, intermediate_size=2 * hidden, num_attention_heads=heads,
        num_key_value_heads=kv_heads, vocab_size=vocab, num_local_experts=experts, num_experts_per_tok=2,
        max_position_embeddings=64,
    )
    cfg._experts_implementation = "batched_mm"
    model = T.MixtralForCausalLM._from_config(cfg).eval()
    inputs = {"input_ids": torch.randint(0, vocab, (batch, seq)), "use_cache": False, "return_dict": False}
    return model, inputs, {"input_ids": {0: "B", 1: "S"}}


def fnet(layers: int = 2, hidden: int = 32, vocab: int = 64, positions: int = 64, batch: int = 2, seq: int = 8) -> tuple:
    """FNetModel: token mixing by a 2-D FFT over (sequence, hidden) whose real part goes on, a
    complex intermediate in the IR."""
    T = _quiet()
    torch.manual_seed(0)
    cfg = T.FNetConfig(
        num_hidden_layers=layers, hidden_size=hidden, intermediate_size=2 * hidden, vocab_size=vocab,
        max_position_embeddings=positions, type_vocab_size=2,
    )
    model = T.FNetModel._from_config(cfg).eval()
    inputs = {"input_ids": torch.randint(0, vocab, (batch, seq)), "return_dict": False}
    return model, inputs, {"input_ids": {0: "B", 1: "S"}}


def _dim_value(dim: Any, root_value: int) -> int:
    """The size a Dim or derived Dim (``16*Dim("H16")``) takes when its root is ``root_value``."""
    fn = getattr(dim, "fn", None)
    return int(fn(root_value)) if fn is not None else root_value


def fresh_inputs(example_inputs: dict[str, Any], bindings: dict[str, int], dynamic_dims: dict[str, Any], seed: int = 1) -> dict[str, Any]:
    """New random inputs like ``example_inputs`` with the dynamic dims set from ``bindings``
    (``{"B": 3, "S": 5}``): integer inputs keep their value range, masks stay 0/1."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    for name, v in example_inputs.items():
        if not isinstance(v, torch.Tensor):
            out[name] = v
            continue
        shape = list(v.shape)
        for axis, sym in (dynamic_dims.get(name) or {}).items():
            root = getattr(sym, "root", None)  # a derived Dim (k*Dim): bound by its root's name
            if root is not None and root.__name__ in bindings:
                shape[axis] = _dim_value(sym, bindings[root.__name__])
                continue
            sym = getattr(sym, "__name__", sym)  # a torch.export.Dim by its name
            if isinstance(sym, str) and sym in bindings:
                shape[axis] = bindings[sym]
        if v.dtype.is_floating_point:
            out[name] = torch.randn(*shape, generator=g, dtype=v.dtype)
        else:
            hi = int(v.max()) + 1 if v.numel() else 2
            out[name] = torch.randint(0, max(hi, 2), shape, generator=g, dtype=v.dtype)
            if name == "attention_mask":
                out[name] = torch.ones(shape, dtype=v.dtype)
                if shape[-1] > 1:
                    out[name][0, shape[-1] // 2 :] = 0
    return out
