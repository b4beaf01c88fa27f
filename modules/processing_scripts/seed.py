"""A1111's built-in `seed` script: seed, sampler and refiner are fields of the processing object here."""
from modules._facade import expose

expose(__name__, extra=[
       ('ScriptSeed', 'sdwebui.services.legacy.stubs')])
