"""A1111's built-in processing scripts (seed, sampler, refiner, comments)."""
