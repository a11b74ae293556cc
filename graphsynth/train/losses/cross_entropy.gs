// Cross-entropy: the mean over the batch of -log softmax(logits)[target].
graph CrossEntropy(logits: f32[B, C], targets: i64[B]) -> f32[] {
  %logp: f32[B, C] = log_softmax(logits, dim=1)
  %t: i64[B, 1] = unsqueeze(targets, dim=1)
  %picked: f32[B, 1] = gather(%logp, %t, dim=1)
  %mean: f32[] = mean(%picked)
  %loss: f32[] = neg(%mean)
  return %loss
}
