"""A1111's `modules.textual_inversion.saving_settings`: embeddings are read and used here; training is not part of
this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('save_settings_to_file', 'sdwebui.services.legacy.stubs')])
