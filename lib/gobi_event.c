/*
 * Copyright (C) the gobi authors
 */

#include <string.h>

#include "gobi_event.h"


static const char  *gobi_event_names[] = {
    "none", "create", "modify", "delete", "rename"
};


const char *
gobi_event_type_name(gobi_event_type_e type)
{
    if (type < GOBI_EV_NONE || type > GOBI_EV_RENAME) {
        return "none";
    }

    return gobi_event_names[type];
}


gobi_event_type_e
gobi_event_type_parse(const char *name)
{
    int  i;

    for (i = GOBI_EV_CREATE; i <= GOBI_EV_RENAME; i++) {
        if (strcmp(name, gobi_event_names[i]) == 0) {
            return (gobi_event_type_e) i;
        }
    }

    return GOBI_EV_NONE;
}
