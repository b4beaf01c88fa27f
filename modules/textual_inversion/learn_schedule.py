"""A1111's `modules.textual_inversion.learn_schedule`: embeddings are read and used here; training is not part of
this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('LearnRateScheduler', 'sdwebui.services.legacy.stubs')])
