// Focal loss (Lin et al., 2017) with gamma = 2: -(1 - p_t)^2 log p_t, averaged over the batch;
// p_t is the probability of the label.  Easy examples (p_t near 1) weigh little.
graph Focal(logits: f32[B, C], targets: i64[B]) -> f32[] {
  %logp: f32[B, C] = log_softmax(logits, dim=1)
  %t: i64[B, 1] = unsqueeze(targets, dim=1)
  %logpt: f32[B, 1] = gather(%logp, %t, dim=1)
  %pt: f32[B, 1] = exp(%logpt)
  %miss: f32[B, 1] = sub(1.0, %pt)
  %w: f32[B, 1] = mul(%miss, %miss)
  %wl: f32[B, 1] = mul(%w, %logpt)
  %mean: f32[] = mean(%wl)
  %loss: f32[] = neg(%mean)
  return %loss
}
