"""A1111's `modules.sd_hijack_clip_old`: nothing of it applies here (the diffusers text encoders
tokenize prompts themselves)."""
from modules._facade import expose

expose(__name__)
