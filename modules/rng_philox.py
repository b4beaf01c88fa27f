"""A1111's `modules.rng_philox`: the "NV" noise source (Philox 4x32-10 on the CPU, sdwebui/engine/sampling/philox.py)."""
from modules._facade import expose

expose(__name__, extra=[('Generator', 'sdwebui.services.legacy.misc'), ('philox4_32', 'sdwebui.services.legacy.misc'), ('box_muller', 'sdwebui.services.legacy.misc')])
