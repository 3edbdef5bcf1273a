/* errors.c: names for the store's error codes and for errno values. */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_strerror(int code)
{
	if (code < 0)
		code = -code;
	switch (code) {
	case 0:
		return "success";
	case STORE_ECONFLICT:
		return "version conflict";
	case STORE_ENOTFOUND:
		return "key not found";
	case STORE_EFENCED:
		return "fenced: a newer epoch has written to the journal";
	case STORE_EFAILED:
		return "writer failed after a commit error; writes refused until the epoch is restarted";
	case STORE_ENOTWRITER:
		return "not the writer";
	case STORE_ENOTSTORE:
		return "not a store";
	case STORE_EFORMAT:
		return "unsupported store format";
	case STORE_EDAMAGED:
		return "damaged file";
	case STORE_EGAP:
		return "gap in the journal";
	case STORE_ESTALE:
		return "stale batch from an older epoch";
	case STORE_EDIGEST:
		return "state digest mismatch";
	case STORE_EKEY:
		return "invalid key";
	case STORE_EVALUE:
		return "invalid JSON value";
	case STORE_ETOOLARGE:
		return "value too large";
	case STORE_ECLOSING:
		return "writer is ending its epoch";
	case STORE_ELEASE:
		return "lease check refused the acknowledgement";
	default:
		return strerror(code);
	}
}
