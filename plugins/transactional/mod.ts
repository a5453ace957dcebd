// The transactional plugin (add-on): integrators' one-at-a-time mail on its own stream, ahead of
// mass mail. REST at /api/v1/messages; the SMTP relay (smtp_*.ts) queues through enqueue.ts too.
import type { Plugin } from "../../core/plugin.ts";
import { messages } from "./messages.ts";
import { messageRoutes } from "./routes.ts";
import { reportUi } from "./ui.tsx";
import { smtpMessages } from "./credentials_messages.ts";
import { smtpCredentialsUi } from "./credentials_ui.tsx";
import { relayNetworkMessages } from "./relay_networks_messages.ts";
import { relayNetworkRoutes } from "./relay_networks_routes.ts";
import { startSmtpRole } from "./smtp_server.ts";

export const transactionalPlugin: Plugin = {
  name: "transactional",
  tier: "addon",
  apiPath: "messages",
  migrations: new URL("./migrations/", import.meta.url),
  messages: {
    en: { ...messages.en, ...smtpMessages.en, ...relayNetworkMessages.en },
    sv: { ...messages.sv, ...smtpMessages.sv, ...relayNetworkMessages.sv },
    fi: { ...messages.fi, ...smtpMessages.fi, ...relayNetworkMessages.fi },
    da: { ...messages.da, ...smtpMessages.da, ...relayNetworkMessages.da },
  },
  routes: messageRoutes,
  operatorRoutes: relayNetworkRoutes,
  ui: {
    nav: [
      { path: "", label: "nav" },
      { path: "/smtp-credentials", label: "smtp_nav", roles: ["admin"] },
    ],
    routes(app, deps) {
      reportUi(app, deps);
      smtpCredentialsUi(app, deps);
    },
  },
  // SMTP submission (smtp_server.ts) runs in the smtp role, beside the core's inbound server.
  startSmtp: startSmtpRole,
};
