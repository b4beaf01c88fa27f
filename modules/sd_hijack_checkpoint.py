"""A1111's `modules.sd_hijack_checkpoint` (gradient checkpointing for its training): not part of
this backend."""
from modules._facade import expose

expose(__name__, extra=[('add', 'sdwebui.services.legacy.stubs'), ('remove', 'sdwebui.services.legacy.stubs')])
