"""A1111's `modules.models.diffusion`: its LDM samplers and instruct-pix2pix class, which this backend has not."""
