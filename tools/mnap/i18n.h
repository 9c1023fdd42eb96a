/* i18n.h: the messages of mnap through gettext (domain "mnap"): _() marks
 * and translates a message, N_() only marks it.  The catalogue is po/ja.po;
 * i18n_init (main.c) picks the language from LANG / LC_ALL / LC_MESSAGES /
 * LANGUAGE and finds the compiled catalogue: MNAP_LOCALEDIR, else
 * <the program's directory>/../locale (the build tree), else the installed
 * $(PREFIX)/share/locale.  Untranslated or unknown languages: English. */
#ifndef MNAP_I18N_H
#define MNAP_I18N_H

#include <libintl.h>

#define _(s) gettext(s)
#define N_(s) s

void i18n_init(void);

#endif
