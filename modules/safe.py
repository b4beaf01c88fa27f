"""A1111's `modules.safe`: loading .pt/.ckpt without running their code (`sdwebui.services.legacy.misc`)."""
from modules._facade import expose

expose(__name__, extra=[('load', 'sdwebui.services.legacy.misc'), ('load_with_extra', 'sdwebui.services.legacy.misc'), ('unsafe_torch_load', 'sdwebui.services.legacy.misc'), ('Extra', 'sdwebui.services.legacy.misc'), ('RestrictedUnpickler', 'sdwebui.services.legacy.misc'), ('global_extra_handler', 'sdwebui.services.legacy.misc')])
