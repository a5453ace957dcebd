// The typed_addresses plugin's strings ("typed_addresses.<key>" in the catalogue).
export const messages = {
  en: {
    "address_type.work": "work",
    "address_type.private": "private",
    "address_type.student": "student",
    "exclusion.no_address_of_type": "No address of the chosen type",
    "person_title": "Address types",
    "person_help":
      "Mark which address is the person's work, private or student address. Mailings can then be sent to that type instead of the primary address.",
    "person_none": "Untyped",
    "person_saved": "Address types saved.",
    "save": "Save",
    "mailing_title": "Send to which address",
    "mailing_help":
      "By default each person gets the mailing at their primary address. Choose a type to send to that address instead.",
    "mailing_primary": "Primary address",
    "mailing_type": "{type} address",
    "mailing_fallback": "Use the primary address for people without one",
    "mailing_saved": "The address choice is saved.",
    "mailing_current_primary": "Sent to each person's primary address.",
    "mailing_current_type": "Sent to each person's {type} address.",
    "mailing_current_type_fallback":
      "Sent to each person's {type} address, or the primary address when they have none.",
  },
  sv: {
    "address_type.work": "arbete",
    "address_type.private": "privat",
    "address_type.student": "student",
    "exclusion.no_address_of_type": "Ingen adress av den valda typen",
    "person_title": "Adresstyper",
    "person_help":
      "Markera vilken adress som är personens arbets-, privat- eller studentadress. Utskick kan då skickas till den typen i stället för till den primära adressen.",
    "person_none": "Ingen typ",
    "person_saved": "Adresstyperna är sparade.",
    "save": "Spara",
    "mailing_title": "Vilken adress ska användas?",
    "mailing_help":
      "Som standard får varje person utskicket på sin primära adress. Välj en typ för att skicka till den adressen i stället.",
    "mailing_primary": "Primär adress",
    "mailing_type": "Adress ({type})",
    "mailing_fallback": "Använd den primära adressen för personer som saknar en sådan adress",
    "mailing_saved": "Adressvalet är sparat.",
    "mailing_current_primary": "Skickas till varje persons primära adress.",
    "mailing_current_type": "Skickas till varje persons adress av typen {type}.",
    "mailing_current_type_fallback":
      "Skickas till varje persons adress av typen {type}, eller till den primära adressen om personen saknar en sådan.",
  },
  fi: {
    "address_type.work": "työ",
    "address_type.private": "yksityinen",
    "address_type.student": "opiskelija",
    "exclusion.no_address_of_type": "Ei valitun tyyppistä osoitetta",
    "person_title": "Osoitteiden tyypit",
    "person_help":
      "Merkitse, mikä osoite on henkilön työ-, yksityis- tai opiskelijaosoite. Postitukset voidaan silloin lähettää tämän tyyppiseen osoitteeseen ensisijaisen osoitteen sijaan.",
    "person_none": "Ei tyyppiä",
    "person_saved": "Osoitteiden tyypit tallennettu.",
    "save": "Tallenna",
    "mailing_title": "Mihin osoitteeseen lähetetään?",
    "mailing_help":
      "Oletuksena jokainen henkilö saa postituksen ensisijaiseen osoitteeseensa. Valitse tyyppi, jos haluat lähettää sen tyyppiseen osoitteeseen.",
    "mailing_primary": "Ensisijainen osoite",
    "mailing_type": "Osoite ({type})",
    "mailing_fallback":
      "Käytä ensisijaista osoitetta henkilöille, joilla ei ole tämän tyyppistä osoitetta",
    "mailing_saved": "Osoitteen valinta tallennettu.",
    "mailing_current_primary": "Lähetetään kunkin henkilön ensisijaiseen osoitteeseen.",
    "mailing_current_type": "Lähetetään kunkin henkilön osoitteeseen, jonka tyyppi on {type}.",
    "mailing_current_type_fallback":
      "Lähetetään kunkin henkilön osoitteeseen, jonka tyyppi on {type}, tai ensisijaiseen osoitteeseen, jos sellaista ei ole.",
  },
  da: {
    "address_type.work": "arbejde",
    "address_type.private": "privat",
    "address_type.student": "studerende",
    "exclusion.no_address_of_type": "Ingen adresse af den valgte type",
    "person_title": "Adressetyper",
    "person_help":
      "Markér, hvilken adresse der er personens arbejds-, privat- eller studieadresse. Udsendelser kan så sendes til den type i stedet for til den primære adresse.",
    "person_none": "Ingen type",
    "person_saved": "Adressetyperne er gemt.",
    "save": "Gem",
    "mailing_title": "Hvilken adresse skal bruges?",
    "mailing_help":
      "Som standard modtager hver person udsendelsen på sin primære adresse. Vælg en type for at sende til den adresse i stedet.",
    "mailing_primary": "Primær adresse",
    "mailing_type": "Adresse ({type})",
    "mailing_fallback":
      "Brug den primære adresse til personer, der ikke har en adresse af den type",
    "mailing_saved": "Adressevalget er gemt.",
    "mailing_current_primary": "Sendes til hver persons primære adresse.",
    "mailing_current_type": "Sendes til hver persons adresse af typen {type}.",
    "mailing_current_type_fallback":
      "Sendes til hver persons adresse af typen {type} eller til den primære adresse, hvis personen ikke har en sådan.",
  },
} as const;
