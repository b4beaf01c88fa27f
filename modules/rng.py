"""A1111's `modules.rng`: seeded noise on the running app's device (`sdwebui.services.legacy.misc`, over
`sdwebui.engine.sampling.rng`)."""
from modules._facade import expose

expose(__name__, extra=[('ImageRNG', 'sdwebui.services.legacy.misc'), ('create_generator', 'sdwebui.services.legacy.misc'), ('manual_seed', 'sdwebui.services.legacy.misc'), ('randn', 'sdwebui.services.legacy.misc'), ('randn_local', 'sdwebui.services.legacy.misc'), ('randn_like', 'sdwebui.services.legacy.misc'), ('randn_without_seed', 'sdwebui.services.legacy.misc'), ('slerp', 'sdwebui.services.legacy.misc')])
