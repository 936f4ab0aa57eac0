"""Knowledge distillation: logit KD with any f-divergence, SinKD, and the combined loss.

    kd_loss(student_logits, teacher_logits, temperature=4.0)      # T^2 KL(teacher || student)
    sinkd_loss(student_logits, teacher_logits, debiased=True)     # Sinkhorn divergence, batch
    DistillationLoss(ce_weight=0.5, kd_weight=0.5, sinkd_weight=0.8)(s, t, labels) -> (total, parts)

``qdsformer distill`` (:mod:`qdsformer.train.distill`) trains with these through the one
training loop; this package holds the losses only.
"""

from qdsformer.kd.losses import DistillationLoss, kd_loss, sinkd_loss

__all__ = ["DistillationLoss", "kd_loss", "sinkd_loss"]
