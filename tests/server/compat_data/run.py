# SPDX-License-Identifier: MIT
"""run.py -- the data-path compatibility suite: records written and read
through `varve serve` by real Kafka clients.

    /usr/bin/python3 run.py VARVE VARVE_DUMP IDEM_PRODUCER TEST_NAME

meson registers every test as its own test (suite 'compat'), each on a fresh
store and server. The tests live in the t_*.py modules beside this file;
common.py holds what they share (and imports ../compat/harness.py for the
server and the store). Clients: kcat 1.7.1, librdkafka 2.0.2 (the C program
idem_producer), confluent-kafka-python 1.7.0 and kafka-python 2.0.2, as
installed on the build machine. IDEM_PRODUCER may be "-" when librdkafka's
headers were missing at build time; the test that needs it is then skipped.
With VARVE_COMPAT_KEEP set in the environment, the test's store and logs
are kept (their path is printed) instead of removed.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import common  # noqa: E402
from common import SKIP, Failure, Store  # noqa: E402

import t_bad_produce  # noqa: F401,E402  (each module registers its tests)
import t_clients  # noqa: F401,E402
import t_embedded  # noqa: F401,E402
import t_groups  # noqa: F401,E402
import t_idempotent  # noqa: F401,E402
import t_kcat  # noqa: F401,E402


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in common.TESTS:
        sys.stderr.write("usage: run.py VARVE VARVE_DUMP IDEM_PRODUCER TEST\ntests: %s\n"
                         % " ".join(sorted(common.TESTS)))
        return 2
    common.BIN["varve"], common.BIN["dump"] = sys.argv[1], sys.argv[2]
    common.BIN["idem"] = None if sys.argv[3] == "-" else sys.argv[3]
    name = sys.argv[4]
    st = Store(common.BIN["varve"])
    try:
        if common.TESTS[name](st) == SKIP:
            return SKIP
    except Failure as e:
        print("FAIL %s: %s" % (name, e), flush=True)
        return 1
    finally:
        if os.environ.get("VARVE_COMPAT_KEEP"):
            print("kept %s" % st.tmp)
        else:
            st.cleanup()
    print("ok %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
