// Swedish strings of the recipient's unsubscribe page (English is in core/i18n/en.ts).
import { registerMessages } from "../../core/i18n/mod.ts";

registerMessages("unsubscribe", {
  sv: {
    title: "Avsluta prenumeration",
    intro: "Välj vilka utskick från {tenant} som inte längre ska skickas till {address}.",
    type_option: "Avsluta prenumerationen på ”{type}”",
    type_help: "Andra utskick från {tenant} kommer fortfarande till dig.",
    all_option: "Avsluta alla utskick",
    all_help: "Meddelanden som du själv begär, till exempel kvitton, kommer fortfarande fram.",
    done_all: "Du får inte längre några utskick från {tenant}.",
    done_type: "Du prenumererar inte längre på ”{type}”.",
    already_all: "Du får inte längre några utskick från {tenant}.",
    already_type: "Du prenumererar inte längre på ”{type}”.",
    one_click_done: "Du har avslutat prenumerationen.",
    not_found: "Den här länken för att avsluta prenumerationen är inte giltig.",
    resubscribe_hint: "Ändrat dig? Kontakta {tenant} för att prenumerera igen.",
  },
});
