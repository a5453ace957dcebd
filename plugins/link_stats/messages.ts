// The plugin's strings, registered as "link_stats.<key>".
export const messages = {
  en: {
    title: "Clicks per link",
    intro:
      "Each tracked link of this mailing, in the order it appears. People and machines (security scanners, link checkers) are counted apart; unique counts recipients, total counts every click.",
    none: "This mailing has no tracked links.",
    col_link: "Link",
    col_url: "URL",
    col_people: "People",
    col_machines: "Machines",
    unique: "unique",
    total: "total",
    no_label: "(no text)",
    csv: "Download CSV",
  },
  sv: {
    title: "Klick per länk",
    intro:
      "Utskickets spårade länkar i den ordning de förekommer. Personer och maskiner (säkerhetsskannrar, länkkontroller) räknas för sig; ”unika” räknar mottagare, ”totalt” räknar varje klick.",
    none: "Utskicket har inga spårade länkar.",
    col_link: "Länk",
    col_url: "URL",
    col_people: "Personer",
    col_machines: "Maskiner",
    unique: "unika",
    total: "totalt",
    no_label: "(ingen text)",
    csv: "Ladda ned CSV",
  },
  fi: {
    title: "Klikkaukset linkeittäin",
    intro:
      "Postituksen seuratut linkit siinä järjestyksessä, jossa ne esiintyvät. Henkilöt ja koneet (tietoturvaskannerit, linkkien tarkistimet) lasketaan erikseen; ”yksilöllisiä” lasketaan vastaanottajittain, ”yhteensä” sisältää jokaisen klikkauksen.",
    none: "Tässä postituksessa ei ole seurattuja linkkejä.",
    col_link: "Linkki",
    col_url: "URL",
    col_people: "Henkilöt",
    col_machines: "Koneet",
    unique: "yksilöllistä",
    total: "yhteensä",
    no_label: "(ei tekstiä)",
    csv: "Lataa CSV",
  },
  da: {
    title: "Klik pr. link",
    intro:
      "Udsendelsens sporede links i den rækkefølge, de optræder. Personer og maskiner (sikkerhedsscannere, linktjek) tælles for sig; »unikke« tæller modtagere, »i alt« tæller hvert klik.",
    none: "Udsendelsen har ingen sporede links.",
    col_link: "Link",
    col_url: "URL",
    col_people: "Personer",
    col_machines: "Maskiner",
    unique: "unikke",
    total: "i alt",
    no_label: "(ingen tekst)",
    csv: "Download CSV",
  },
};
