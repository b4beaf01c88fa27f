"""A1111's `modules.patches`: `patch`, `undo`, `original` (`sdwebui.services.legacy.misc`)."""
from modules._facade import expose

expose(__name__, extra=[('patch', 'sdwebui.services.legacy.misc'), ('undo', 'sdwebui.services.legacy.misc'), ('original', 'sdwebui.services.legacy.misc'), ('PatchError', 'sdwebui.services.legacy.misc')])
