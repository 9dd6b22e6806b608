# run_main.py PROG MODULE [ARGS...]: run MODULE.main() as program PROG.
# The python3-* library packages ship no /usr/bin entry points (nova-api,
# glance-manage, ... live in the daemon packages), so tests/cloud/up starts
# the services through this. Nothing else is imported first, so the module's
# own eventlet monkey-patching still happens before anything else.
import importlib
import sys

prog, module = sys.argv[1], sys.argv[2]
sys.argv = [prog] + sys.argv[3:]
sys.exit(importlib.import_module(module).main())
