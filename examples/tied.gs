// A tied weight and a symbol whose step makes a reshape provable (see README, "The IR").
graph Tied(ids: i64[B, T]) -> (f32[B, T, 64], i64[B, T//8, 8]) {
  symbol T: [8, 4096] step 8
  param wte.weight: f32[64, 16]
  param lm_head.weight: f32[64, 16] = wte.weight
  %0: f32[B, T, 16] = embedding(wte.weight, ids)
  %1: f32[B, T, 64] = linear(%0, lm_head.weight)
  %2: i64[B, T//8, 8] = reshape(ids, shape=[B, T//8, 8])
  return %1, %2
}
