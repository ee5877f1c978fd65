// The widget's words: English, French and Arabic (right-to-left), chosen by the widget's
// locale or, when it is "auto", by the browser's languages.

export const STRINGS = {
  en: {
    open: "Open chat", close: "Close chat", chat: "Chat", menu: "Chat options",
    send: "Send", message: "Message", placeholder: "Write a message…", attach: "Attach a file",
    start: "Start chat", required: "Please fill in this field.",
    email: "Enter an email address like name@example.com.", tel: "Enter a phone number, digits only.",
    choose: "Choose…", connecting: "Connecting…", reconnecting: "Reconnecting…",
    ended: "This chat has ended.", newChat: "Start a new chat", endChat: "End chat",
    confirmEnd: "End this chat?", cancel: "Cancel", transcript: "Download transcript",
    joined: "{name} joined the chat", left: "{name} left the chat",
    transferred: "You are now chatting with {name}", chatEnded: "The chat ended",
    typing: "{name} is typing…", someone: "Agent", you: "You",
    sending: "Sending…", sent: "Sent", delivered: "Delivered", read: "Read",
    retrying: "Not sent yet, retrying…", notSent: "Not sent. Tap to retry", tooBig: "{name} is larger than 20 MB.",
    badType: "{name}: files of this type can't be sent here.", uploading: "Uploading {name}…",
    uploadFailed: "{name} could not be sent.", download: "Download {name}", image: "Image {name}",
    sound: "Sound on new messages", notifications: "Notify me of new messages",
    unread: "{n} unread", newMessage: "New message", newMessageFrom: "New message from {name}",
    failed: "Something went wrong. Please try again.", waitAMoment: "Too many requests, wait a moment.",
    inQueue: "Connecting you… you are number {n}.",
    dropHere: "Drop a file to send it", waiting: "Waiting for an agent to join…",
    selected: "You chose: {title}", closeImage: "Close image", cancelUpload: "Cancel sending {name}", link: "{text} (opens in a new tab)",
  },
  fr: {
    open: "Ouvrir le chat", close: "Fermer le chat", chat: "Chat", menu: "Options du chat",
    send: "Envoyer", message: "Message", placeholder: "Écrivez un message…", attach: "Joindre un fichier",
    start: "Démarrer le chat", required: "Veuillez remplir ce champ.",
    email: "Saisissez une adresse comme nom@exemple.fr.", tel: "Saisissez un numéro de téléphone.",
    choose: "Choisir…", connecting: "Connexion…", reconnecting: "Reconnexion…",
    ended: "Ce chat est terminé.", newChat: "Démarrer un nouveau chat", endChat: "Terminer le chat",
    confirmEnd: "Terminer ce chat ?", cancel: "Annuler", transcript: "Télécharger la conversation",
    joined: "{name} a rejoint le chat", left: "{name} a quitté le chat",
    transferred: "Vous discutez maintenant avec {name}", chatEnded: "Le chat est terminé",
    typing: "{name} écrit…", someone: "Conseiller", you: "Vous",
    sending: "Envoi…", sent: "Envoyé", delivered: "Distribué", read: "Lu",
    retrying: "Pas encore envoyé, nouvel essai…", notSent: "Non envoyé. Touchez pour réessayer", tooBig: "{name} dépasse 20 Mo.",
    badType: "{name} : ce type de fichier n'est pas accepté.", uploading: "Envoi de {name}…",
    uploadFailed: "{name} n'a pas pu être envoyé.", download: "Télécharger {name}", image: "Image {name}",
    sound: "Son à chaque message", notifications: "M'avertir des nouveaux messages",
    unread: "{n} non lus", newMessage: "Nouveau message", newMessageFrom: "Nouveau message de {name}",
    failed: "Une erreur s'est produite. Réessayez.", waitAMoment: "Trop de demandes, patientez un instant.",
    inQueue: "Connexion… vous êtes le numéro {n}.",
    dropHere: "Déposez un fichier pour l'envoyer", waiting: "En attente d'un conseiller…",
    selected: "Votre choix : {title}", closeImage: "Fermer l'image", cancelUpload: "Annuler l'envoi de {name}", link: "{text} (s'ouvre dans un nouvel onglet)",
  },
  ar: {
    open: "افتح المحادثة", close: "أغلق المحادثة", chat: "محادثة", menu: "خيارات المحادثة",
    send: "إرسال", message: "رسالة", placeholder: "اكتب رسالة…", attach: "إرفاق ملف",
    start: "ابدأ المحادثة", required: "يرجى ملء هذا الحقل.",
    email: "أدخل بريدًا إلكترونيًا مثل name@example.com.", tel: "أدخل رقم هاتف.",
    choose: "اختر…", connecting: "جارٍ الاتصال…", reconnecting: "جارٍ إعادة الاتصال…",
    ended: "انتهت هذه المحادثة.", newChat: "ابدأ محادثة جديدة", endChat: "إنهاء المحادثة",
    confirmEnd: "هل تريد إنهاء هذه المحادثة؟", cancel: "إلغاء", transcript: "تنزيل نص المحادثة",
    joined: "انضم {name} إلى المحادثة", left: "غادر {name} المحادثة",
    transferred: "أنت الآن تتحدث مع {name}", chatEnded: "انتهت المحادثة",
    typing: "{name} يكتب…", someone: "موظف", you: "أنت",
    sending: "جارٍ الإرسال…", sent: "أُرسلت", delivered: "وصلت", read: "قُرئت",
    retrying: "لم تُرسل بعد، إعادة المحاولة…", notSent: "لم تُرسل. اضغط لإعادة المحاولة", tooBig: "{name} أكبر من 20 ميغابايت.",
    badType: "{name}: لا يمكن إرسال هذا النوع من الملفات.", uploading: "جارٍ رفع {name}…",
    uploadFailed: "تعذّر إرسال {name}.", download: "تنزيل {name}", image: "صورة {name}",
    sound: "صوت عند وصول رسالة", notifications: "أعلمني بالرسائل الجديدة",
    unread: "{n} غير مقروءة", newMessage: "رسالة جديدة", newMessageFrom: "رسالة جديدة من {name}",
    failed: "حدث خطأ. حاول مرة أخرى.", waitAMoment: "طلبات كثيرة، انتظر قليلًا.",
    inQueue: "جارٍ توصيلك… ترتيبك {n}.",
    dropHere: "أفلت ملفًا لإرساله", waiting: "في انتظار انضمام موظف…",
    selected: "اخترت: {title}", closeImage: "إغلاق الصورة", cancelUpload: "إلغاء إرسال {name}", link: "{text} (يفتح في علامة تبويب جديدة)",
  },
};

const RTL = new Set(["ar", "he", "fa", "ur"]);

export function pickLocale(configured, browser = navigator.languages || [navigator.language]) {
  const wanted = configured && configured !== "auto" ? [configured] : browser;
  for (const tag of wanted) {
    const lang = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (STRINGS[lang]) return lang;
  }
  return "en";
}

export function translator(locale) {
  const table = STRINGS[locale] || STRINGS.en;
  const t = (key, params = {}) =>
    (table[key] ?? STRINGS.en[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
  t.locale = locale;
  t.dir = RTL.has(locale) ? "rtl" : "ltr";
  return t;
}

// Words of modules that bring their own (aftercare.js), merged into each language's table:
// translators made before or after see them alike.
export function addStrings(more) {
  for (const [lang, words] of Object.entries(more)) Object.assign((STRINGS[lang] ||= {}), words);
}
