// Every v1.0 contact property the editor shows, grouped as the form lays them out. `kind` says
// how a value is edited: text, date, a list of strings, e-mail addresses, or a postal address.

export const GROUPS = [
  ["Name", [
    ["givenName", "First name"], ["middleName", "Middle name"], ["surname", "Last name"],
    ["title", "Title"], ["generation", "Suffix"], ["nickName", "Nickname"], ["initials", "Initials"],
    ["displayName", "Display name"], ["fileAs", "File as"],
    ["yomiGivenName", "Phonetic first name"], ["yomiSurname", "Phonetic last name"],
  ]],
  ["Contact", [
    ["emailAddresses", "E-mail addresses", "emails"], ["mobilePhone", "Mobile phone", "tel"],
    ["businessPhones", "Business phones", "list"], ["homePhones", "Home phones", "list"],
    ["imAddresses", "IM addresses", "list"], ["businessHomePage", "Website", "url"],
  ]],
  ["Work", [
    ["companyName", "Company"], ["yomiCompanyName", "Phonetic company"], ["jobTitle", "Job title"],
    ["department", "Department"], ["officeLocation", "Office"], ["profession", "Profession"],
    ["manager", "Manager"], ["assistantName", "Assistant"],
  ]],
  ["Addresses", [
    ["homeAddress", "Home address", "address"], ["businessAddress", "Business address", "address"],
    ["otherAddress", "Other address", "address"],
  ]],
  ["Personal", [
    ["birthday", "Birthday", "date"], ["spouseName", "Spouse"], ["children", "Children", "list"],
    ["personalNotes", "Notes", "textarea"],
  ]],
];

export const ADDRESS_PARTS = [["street", "Street"], ["city", "City"], ["state", "State or province"],
  ["postalCode", "Postal code"], ["countryOrRegion", "Country or region"]];

/** The form's value for a property of a v1.0 contact. */
export function toForm(kind, v) {
  switch (kind) {
    case "list": return (v || []).join("\n");
    case "emails": return (v || []).map((e) => (e.name && e.name !== e.address ? `${e.name} <${e.address}>` : e.address)).join("\n");
    case "date": return v ? v.slice(0, 10) : "";
    case "address": return v || {};
    default: return v ?? "";
  }
}

/** A property's value for PATCH/POST from the form's text. */
export function fromForm(kind, text) {
  const lines = () => String(text).split("\n").map((s) => s.trim()).filter(Boolean);
  switch (kind) {
    case "list": return lines();
    case "emails": return lines().map((l) => {
      const m = l.match(/^(.*)<([^>]+)>$/);
      return m ? { name: m[1].trim(), address: m[2].trim() } : { address: l };
    });
    case "date": return text ? `${text}T00:00:00Z` : null;
    default: return text === "" ? null : text;
  }
}
