"""A1111's `webui.py`. `python webui.py [flags]` starts the app as `launch.py` does; an extension that
does `import webui` gets the app assembly (`sdwebui.interfaces.app`), as older extensions expect."""
if __name__ == "__main__":
    import sys

    import launch

    launch.main(sys.argv[1:])
else:
    from modules._facade import expose

    expose(__name__, "sdwebui.interfaces.app")
