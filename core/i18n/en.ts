// English messages: the reference catalogue every other language is checked against.
export const en = {
  // Errors (API bodies and UI flashes)
  "error.validation": "Some fields are not valid.",
  "error.not_found": "Not found.",
  "error.unauthenticated": "Sign in or give a valid API key.",
  "error.api_key_invalid": "The API key is malformed, unknown or revoked.",
  "error.forbidden": "You do not have permission to do this.",
  "error.plugin_not_enabled": "The feature “{plugin}” is not enabled for your organisation.",
  "error.csrf": "The form expired or came from another site. Reload the page and try again.",
  "error.rate_limited": "Too many attempts. Try again in {seconds} seconds.",
  "error.conflict": "This conflicts with existing data.",
  "error.slug_taken": "The short name “{slug}” is already used by another organisation.",
  "error.email_taken": "The email address {email} already belongs to a user of this organisation.",
  "error.idempotency_mismatch":
    "This Idempotency-Key was already used with a different request. Use a new key.",
  "error.idempotency_in_progress": "A request with this Idempotency-Key is still being processed.",
  "error.tenant_suspended": "This organisation is suspended. Contact your operator.",
  "error.unknown_addon": "Unknown add-on “{addon}”.",
  "error.bad_cursor": "The page cursor is not valid.",
  "error.internal": "Something went wrong on our side. The request id is {requestId}.",
  "error.login_failed": "Wrong email or password.",
  "error.link_invalid": "This link is invalid, used or expired.",
  "error.password_weak": "Use at least 12 characters.",
  "error.password_mismatch": "The two passwords differ.",

  // Validation details
  "field.required": "Required.",
  "field.invalid": "Not valid.",

  // Layout and navigation
  "app.name": "Skicka",
  "nav.home": "Home",
  "nav.tenants": "Organisations",
  "nav.settings": "Settings",
  "nav.api_keys": "API keys",
  "nav.users": "Users",
  "nav.api_docs": "API documentation",
  "nav.logout": "Sign out",
  "nav.menu": "Menu",
  "role.operator": "Operator",
  "role.admin": "Administrator",
  "role.user": "User",

  // Login
  "login.title": "Sign in",
  "login.email": "Email",
  "login.password": "Password",
  "login.submit": "Sign in",
  "login.choose_account": "This email has several accounts. Choose one.",
  "login.logged_out": "You are signed out.",
  "password.set_title": "Choose a password",
  "password.new": "New password",
  "password.repeat": "Repeat password",
  "password.save": "Save password",
  "password.saved": "Your password is saved.",

  // Home
  "home.title": "Welcome, {name}",
  "home.tenant": "Organisation: {tenant} ({tier})",
  "home.features": "Enabled features",
  "home.no_features": "No optional features are enabled.",

  // Tenants (operator)
  "tenants.title": "Organisations",
  "tenants.new": "New organisation",
  "tenants.name": "Name",
  "tenants.slug": "Short name",
  "tenants.slug_hint": "Lower-case letters, digits and hyphens.",
  "tenants.tier": "Tier",
  "tenants.addons": "Add-ons",
  "tenants.status": "Status",
  "tenants.created": "Created",
  "tenants.create": "Create organisation",
  "tenants.created_flash": "Organisation {name} created.",
  "tenants.updated_flash": "Organisation {name} updated.",
  "tenants.save": "Save",
  "tenants.suspend": "Suspend",
  "tenants.reactivate": "Reactivate",
  "tenants.none": "No organisations yet.",
  "tenants.users": "Users",
  "tenants.add_user": "Add user",
  "tenants.user_created":
    "User {email} created. Send them this one-time link to choose a password:",
  "tier.light": "Light",
  "tier.standard": "Standard",
  "tier.advanced": "Advanced",
  "status.active": "Active",
  "status.suspended": "Suspended",

  // Users
  "users.email": "Email",
  "users.name": "Name",
  "users.role": "Role",
  "users.last_login": "Last sign-in",
  "users.never": "Never",

  // API keys
  "api_keys.title": "API keys",
  "api_keys.intro": "Keys let your own systems use the Skicka API. A key is shown only once.",
  "api_keys.name": "Name",
  "api_keys.scopes": "Scopes",
  "api_keys.create": "Create key",
  "api_keys.created": "Copy this key now — it will not be shown again:",
  "api_keys.revoke": "Revoke",
  "api_keys.revoked": "Revoked",
  "api_keys.revoked_flash": "Key {name} revoked.",
  "api_keys.last_used": "Last used",
  "api_keys.none": "No API keys yet.",
  "api_keys.already_created":
    "That form was already sent and its key created; it is shown only once. Revoke it below if you did not copy it.",
  "api_keys.prefix": "Key id",

  // Errors pages
  "page.not_found": "Page not found",
  "page.forbidden": "Not allowed",
  "common.back": "Back",
  "common.yes": "Yes",
  "common.no": "No",
  "common.actions": "Actions",
} as const;

export type MessageKey = keyof typeof en;
