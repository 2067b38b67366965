/* Dropping capabilities (libcap-ng) and setting no_new_privs. */
#include "vmm/caps.h"
#include "vmm/log.h"

#include <cap-ng.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

int caps_drop(bool keep_fs)
{
	capng_select_t which = CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT;
	int err;

	/* Emptying the bounding set itself takes CAP_SETPCAP. */
	capng_get_caps_process();
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP))
		which |= CAPNG_SELECT_BOUNDS;

	capng_clear(CAPNG_SELECT_ALL);
	if (keep_fs &&
	    capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
			  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,
			  -1)) {
		log_error("caps: cannot describe the capabilities to keep");
		return -EINVAL;
	}
	err = capng_apply(which);
	if (err) {
		log_error("caps: cannot drop capabilities (libcap-ng error "
			  "%d)",
			  err);
		return -EPERM;
	}

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		log_error("caps: PR_SET_NO_NEW_PRIVS: %s", strerror(-err));
		return err;
	}
	return 0;
}

int caps_drop_bounding(void)
{
	capng_get_caps_process();
	capng_clear(CAPNG_SELECT_BOUNDS);
	if (capng_apply(CAPNG_SELECT_BOUNDS)) {
		log_error("caps: cannot empty the bounding set");
		return -EPERM;
	}
	return 0;
}
