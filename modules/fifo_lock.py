"""A1111's `modules.fifo_lock`: `FIFOLock` from `sdwebui.services.queue`."""
from modules._facade import expose

expose(__name__, extra=[('FIFOLock', 'sdwebui.services.queue')])
