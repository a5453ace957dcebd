// The relay networks' strings (field issues and the read-only card on the SMTP credentials page),
// merged into the plugin's messages ("transactional.relay_…").
export const relayNetworkMessages = {
  en: {
    relay_title: "Relay networks",
    relay_intro:
      "Systems at these addresses may submit mail without AUTH (still only from your verified senders). Your Skicka operator sets them; ask them to change the list.",
    relay_network: "Network",
    relay_note: "Note",
    relay_added: "Added",
    relay_none: "None: every system must log in with an SMTP credential.",
    relay_issue_invalid:
      "Expected a network such as 192.0.2.0/24 or 2001:db8:1::/48 (address, slash, prefix length); got {input}.",
    relay_issue_host_bits: "Bits are set after the prefix length: the network would be {network}.",
    relay_issue_too_broad:
      "Too broad: a relay network must be {min} or narrower for IPv4 (the loopback 127.0.0.0/8 excepted) and /48 or narrower for IPv6.",
    relay_issue_overlap:
      "Overlaps {network}, a relay network of tenant {tenant}: an address may authorise one tenant only.",
    relay_issue_duplicate: "The tenant already has the relay network {network}.",
  },
  sv: {
    relay_title: "Betrodda nätverk",
    relay_intro:
      "System på de här adresserna får skicka e-post utan inloggning (fortfarande bara från era verifierade avsändare). Listan sköts av er Skicka-operatör; be dem ändra den.",
    relay_network: "Nätverk",
    relay_note: "Anteckning",
    relay_added: "Tillagt",
    relay_none: "Inga: varje system måste logga in med en SMTP-inloggning.",
    relay_issue_invalid:
      "Förväntade ett nätverk som 192.0.2.0/24 eller 2001:db8:1::/48 (adress, snedstreck, prefixlängd); fick {input}.",
    relay_issue_host_bits: "Bitar efter prefixlängden är satta: nätverket skulle vara {network}.",
    relay_issue_too_broad:
      "För brett: ett betrott nätverk får vara högst {min} för IPv4 (utom loopback-nätet 127.0.0.0/8) och högst /48 för IPv6.",
    relay_issue_overlap:
      "Överlappar {network}, ett betrott nätverk för kunden {tenant}: en adress får bara ge behörighet åt en kund.",
    relay_issue_duplicate: "Kunden har redan det betrodda nätverket {network}.",
  },
  fi: {
    relay_title: "Luotetut verkot",
    relay_intro:
      "Näissä osoitteissa olevat järjestelmät voivat lähettää postia ilman kirjautumista (edelleen vain vahvistetuilta lähettäjiltänne). Luettelon ylläpitää Skicka-operaattorinne; pyytäkää sitä muuttamaan luetteloa.",
    relay_network: "Verkko",
    relay_note: "Huomautus",
    relay_added: "Lisätty",
    relay_none: "Ei yhtään: jokaisen järjestelmän on kirjauduttava SMTP-tunnuksilla.",
    relay_issue_invalid:
      "Odotettiin verkkoa, kuten 192.0.2.0/24 tai 2001:db8:1::/48 (osoite, kauttaviiva, etuliitteen pituus); saatiin {input}.",
    relay_issue_host_bits:
      "Etuliitteen pituuden jälkeisiä bittejä on asetettu: verkko olisi {network}.",
    relay_issue_too_broad:
      "Liian laaja: luotetun verkon on oltava IPv4:ssä enintään {min} (paitsi loopback-verkko 127.0.0.0/8) ja IPv6:ssa enintään /48.",
    relay_issue_overlap:
      "Menee päällekkäin asiakkaan {tenant} luotetun verkon {network} kanssa: osoite voi valtuuttaa vain yhden asiakkaan.",
    relay_issue_duplicate: "Asiakkaalla on jo luotettu verkko {network}.",
  },
  da: {
    relay_title: "Betroede netværk",
    relay_intro:
      "Systemer på disse adresser må sende e-mail uden login (stadig kun fra jeres bekræftede afsendere). Listen styres af jeres Skicka-operatør; bed dem om at ændre den.",
    relay_network: "Netværk",
    relay_note: "Note",
    relay_added: "Tilføjet",
    relay_none: "Ingen: alle systemer skal logge ind med et SMTP-login.",
    relay_issue_invalid:
      "Forventede et netværk som 192.0.2.0/24 eller 2001:db8:1::/48 (adresse, skråstreg, præfikslængde); fik {input}.",
    relay_issue_host_bits: "Der er sat bits efter præfikslængden: netværket ville være {network}.",
    relay_issue_too_broad:
      "For bredt: et betroet netværk må højst være {min} for IPv4 (undtagen loopback-netværket 127.0.0.0/8) og højst /48 for IPv6.",
    relay_issue_overlap:
      "Overlapper {network}, et betroet netværk for kunden {tenant}: en adresse må kun give adgang for én kunde.",
    relay_issue_duplicate: "Kunden har allerede det betroede netværk {network}.",
  },
};
