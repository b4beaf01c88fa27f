"""A1111's `modules.models.sd3`: SD3 checkpoints are not supported by this backend."""
