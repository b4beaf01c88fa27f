"""A1111's `modules.sd_disable_initialization`: models are built on the meta device here
(engine/models/single_file.py), so there is nothing to disable."""
from modules._facade import expose

expose(__name__, extra=[
       ('setup_model', 'sdwebui.services.legacy.stubs')])
