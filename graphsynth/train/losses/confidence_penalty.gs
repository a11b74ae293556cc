// Cross-entropy with an auxiliary confidence penalty (Pereyra et al., 2017), beta = 0.1:
// CE - beta * H(softmax(logits)); the entropy term keeps the predictions from saturating.
// The one-hot targets are built in the graph: eq(targets, arange(C)).
graph ConfidencePenalty(logits: f32[B, C], targets: i64[B]) -> f32[] {
  %logp: f32[B, C] = log_softmax(logits, dim=1)
  %t: i64[B, 1] = unsqueeze(targets, dim=1)
  %classes: i64[C] = arange(end=C)
  %hot: bool[B, C] = eq(%t, %classes)
  %onehot: f32[B, C] = cast(%hot, dtype=f32)
  %tlogp: f32[B, C] = mul(%onehot, %logp)
  %ce_rows: f32[B] = sum(%tlogp, dims=[1])
  %ce: f32[] = mean(%ce_rows)
  %p: f32[B, C] = exp(%logp)
  %plogp: f32[B, C] = mul(%p, %logp)
  %negent_rows: f32[B] = sum(%plogp, dims=[1])
  %negent: f32[] = mean(%negent_rows)
  %pen: f32[] = mul(%negent, 0.1)
  %sum: f32[] = sub(%ce, %pen)
  %loss: f32[] = neg(%sum)
  return %loss
}
