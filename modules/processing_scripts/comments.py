"""A1111's prompt comments script: `strip_comments` (`sdwebui.services.legacy.stubs`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('ScriptStripComments', 'sdwebui.services.legacy.stubs'),
       ('strip_comments', 'sdwebui.services.legacy.stubs')])
