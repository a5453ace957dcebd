// The plugin's strings, registered as "design_templates.<key>".
export const messages = {
  en: {
    nav: "Design templates",
    title: "Design templates",
    intro:
      "Keep several designs; new mailings use the default unless they choose another. Editing a design saves a new version; mailings already sent keep theirs.",
    none: "No design templates yet.",
    name: "Name",
    versions: "Versions",
    edit: "Edit",
    make_default: "Make default",
    archive: "Archive",
    archived: "Archived",
    default: "Default",
    new: "New design template",
    create: "Create",
    created: "Design template created.",
    default_set: "“{name}” is now the default design.",
    archived_done: "“{name}” archived.",
  },
};
