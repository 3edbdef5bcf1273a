/*
 * conf_keys.c: prints the configuration key table, one "NAME TYPE" line per
 * key, for tests/t_conf_keys.sh to compare with ssfm.conf(5).
 */
#include "conf.h"

#include <stdio.h>

int main(void)
{
	for (size_t i = 0; i < conf_key_count(); i++) {
		const struct conf_key *k = conf_key_at(i);
		printf("%s %s\n", k->name, conf_type_name(k->type));
	}
	return 0;
}
