# fernet_keys.py DIR...: what "keystone-manage fernet_setup/credential_setup"
# produce (key 0 = staged, 1 = primary), without ~5 s of keystone imports each.
import os
import sys

from cryptography.fernet import Fernet

for d in sys.argv[1:]:
    for n in ('0', '1'):
        fd = os.open(os.path.join(d, n), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        os.write(fd, Fernet.generate_key())
        os.close(fd)
