// Tokens routed by a mask: the count is an unbacked symbol (see README, "The IR").
graph Route(x: f32[T, 16], keep: bool[T]) -> f32[T, 16] {
  symbol u0: [0, inf] unbacked
  %nz: i64[u0, 1] = nonzero(keep, size=u0)
  %idx: i64[u0] = select(%nz, dim=1, index=0)
  %rows: f32[u0, 16] = index_select(x, %idx, dim=0)
  %y: f32[u0, 16] = mul(%rows, 2.0)
  %out: f32[T, 16] = index_add(x, %idx, %y, dim=0)
  return %out
}
