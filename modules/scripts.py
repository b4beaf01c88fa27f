"""A1111's `modules.scripts`: the Script base class, the tabs' script controls and runners
(`sdwebui.services.extensions.script_class`, `.script_controls`, `.scripts`)."""
from modules._facade import expose

expose(__name__, 'sdwebui.services.extensions.script_class', 'sdwebui.services.extensions.script_controls',
       'sdwebui.services.extensions.scripts')
