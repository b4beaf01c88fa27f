"""A1111's built-in `sampler` script: seed, sampler and refiner are fields of the processing object here."""
from modules._facade import expose

expose(__name__, extra=[
       ('ScriptSampler', 'sdwebui.services.legacy.stubs')])
