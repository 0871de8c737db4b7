/*
 * Copyright (C) the gobi authors
 *
 * Preloaded into nginx by scripts/asan-nginx: dlclose() keeps the module
 * mapped.  nginx unloads modules when a cycle ends, before the process
 * exits; unmapped, the module's globals stop being roots for
 * LeakSanitizer (everything they hold would look leaked) and its frames
 * could not be symbolized.
 */

int
dlclose(void *handle)
{
    (void) handle;
    return 0;
}
