/* Crash points: where a test build of rollbackd kills itself, for the
 * crash-safety tests (tests/integration/t-crashpoints-*.sh).
 *
 * Only a build compiled with -DRBD_CRASHPOINTS ("make crash-build", into
 * $(BUILD)/crash) has them; in any other build RBD_CRASHPOINT() is empty
 * and the daemon neither reads the variable below nor contains its name.
 *
 * At each point the test build forms a key
 *
 *     POINT:EVENT:FROM>TO
 *
 * POINT     before-commit   a step is decided, its record not yet written
 *           after-commit    its record is on disk, no action carried out
 *           action-started  the step's deploy command has been started
 *           deploy-done     a deploy command ended, its result not yet
 *                           handed to the engine (so not recorded either)
 * EVENT     the step's event ("degraded", "rolled-back", "paused", ...);
 *           at deploy-done the command's result ("ok", "failed", ...)
 * FROM>TO   the step's states; at deploy-done the state twice
 *
 * and when the environment variable RBD_CRASHPOINT is set and matches the
 * key as an fnmatch(3) pattern (e.g. "after-commit:degraded:*"), it writes
 * "rollbackd: crash point KEY" to stderr and raises SIGKILL: no cleanup,
 * no flush, as a power cut or the OOM killer would. */
#ifndef RBD_CRASHPOINT_H
#define RBD_CRASHPOINT_H

#include "watch.h"

#ifdef RBD_CRASHPOINTS
void rbd_crashpoint(const char *point, const char *event, enum rbd_state from,
    enum rbd_state to);
#define RBD_CRASHPOINT(point, event, from, to) \
	rbd_crashpoint((point), (event), (from), (to))
#else
#define RBD_CRASHPOINT(point, event, from, to) ((void)0)
#endif

#endif
