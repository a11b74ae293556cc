// Label smoothing (Szegedy et al., 2016) with eps = 0.1: the target distribution puts 1 - eps on
// the label and eps spread evenly over all C classes; equal to
// torch.nn.functional.cross_entropy(logits, targets, label_smoothing=0.1).
graph LabelSmoothing(logits: f32[B, C], targets: i64[B]) -> f32[] {
  %logp: f32[B, C] = log_softmax(logits, dim=1)
  %t: i64[B, 1] = unsqueeze(targets, dim=1)
  %picked: f32[B, 1] = gather(%logp, %t, dim=1)
  %nll: f32[] = mean(%picked)
  %uniform: f32[] = mean(%logp)
  %a: f32[] = mul(%nll, 0.9)
  %b: f32[] = mul(%uniform, 0.1)
  %sum: f32[] = add(%a, %b)
  %loss: f32[] = neg(%sum)
  return %loss
}
