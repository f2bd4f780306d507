//! `rolo import` and `rolo export` driven through the built binary, on SQLite and PostgreSQL:
//! nested folders by name, the summary with each bad record's line, restarts that merge what
//! an earlier run wrote, and round trips through vCard and both CSV column sets.

use std::path::Path;

use super::samples;
use super::{assert_success, run, stdout};

fn import(db: &str, dir: &Path, file: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["import", "ada@contoso.test", file, "--database", db];
    args.extend(extra);
    let o = run(&args, dir);
    assert_success(&o, "import");
    (stdout(&o), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn export(db: &str, dir: &Path, folder: &str, format: &str) -> String {
    let out = dir.join(format!("out-{}-{format}", folder.replace('/', "_")));
    let o = run(
        &[
            "export",
            "ada@contoso.test",
            "--folder",
            folder,
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            "--database",
            db,
        ],
        dir,
    );
    assert_success(&o, "export");
    std::fs::read_to_string(out).unwrap()
}

fn cards(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.split("END:VCARD\r\n").filter(|c| !c.is_empty()).map(str::to_owned).collect();
    v.sort();
    v
}

pub fn import_export_commands(db: &str, dir: &Path) {
    let o = run(&["users", "add", "ada@contoso.test", "--display-name", "Ada", "--database", db], dir);
    assert_success(&o, "users add");
    let bad = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nEMAIL;TYPE=NOPE\r\nEND:VCARD\r\n";
    let file =
        [samples::apple(), samples::google(), bad.to_owned(), samples::outlook(), samples::thunderbird()].concat();
    let bad_line = samples::apple().lines().count() + samples::google().lines().count() + 1;
    std::fs::write(dir.join("all.vcf"), &file).unwrap();

    // A first run that got through only the first two cards (as if it had crashed there).
    std::fs::write(dir.join("part.vcf"), [samples::apple(), samples::google()].concat()).unwrap();
    let (out, err) = import(db, dir, "part.vcf", &["--folder", "Work/Clients"]);
    assert_eq!(out, "imported 2, merged 0, skipped 0\n");
    // Not a terminal: plain progress lines, no bar.
    assert_eq!(err, "progress: 2/2 records\n");
    let (out, _) = import(db, dir, "all.vcf", &["--folder", "work/clients"]);
    assert_eq!(
        out,
        format!(
            "imported 2, merged 2, skipped 1\nskipped line {bad_line}: line {}: the line has no ':' between a property name and its value: EMAIL;TYPE=NOPE\n",
            bad_line + 3
        )
    );

    // vCard out, in again elsewhere, out again: the same cards.
    let first = export(db, dir, "Work/Clients", "vcard");
    assert_eq!(first.matches("BEGIN:VCARD").count(), 4);
    assert!(first.contains("\r\nX-MS-OL-DESIGN;CHARSET=utf-8:"), "{first}");
    assert!(first.contains("\r\nFN:Jürgen Müller\r\n"), "{first}");
    std::fs::write(dir.join("first.vcf"), &first).unwrap();
    let (out, _) = import(db, dir, "first.vcf", &["--folder", "Copy", "--format", "vcard"]);
    assert_eq!(out, "imported 4, merged 0, skipped 0\n");
    assert_eq!(cards(&export(db, dir, "Copy", "vcard")), cards(&first));
    let v4 = export(db, dir, "Copy", "vcard4");
    std::fs::write(dir.join("v4.vcf"), &v4).unwrap();
    let (out, _) = import(db, dir, "v4.vcf", &["--folder", "Copy"]);
    assert_eq!(out, "imported 0, merged 4, skipped 0\n");

    // --bulk writes the same cards (indexes rebuilt around them), and a re-run merges them all.
    let (out, _) = import(db, dir, "first.vcf", &["--folder", "Bulk", "--bulk"]);
    assert_eq!(out, "imported 4, merged 0, skipped 0\n");
    assert_eq!(cards(&export(db, dir, "Bulk", "vcard")), cards(&first));
    let (out, _) = import(db, dir, "first.vcf", &["--folder", "Bulk", "--bulk"]);
    assert_eq!(out, "imported 0, merged 4, skipped 0\n");
    assert_eq!(cards(&export(db, dir, "Bulk", "vcard")), cards(&first));

    // Both CSV column sets round trip what they hold.
    for format in ["outlook-csv", "google-csv"] {
        let csv = export(db, dir, "Work/Clients", format);
        let name = format!("{format}.csv");
        std::fs::write(dir.join(&name), &csv).unwrap();
        let folder = format!("From {format}");
        let (out, _) = import(db, dir, &name, &["--folder", &folder]);
        assert_eq!(out, "imported 4, merged 0, skipped 0\n", "{format}");
        assert_eq!(export(db, dir, &folder, format), csv, "{format}");
    }

    // Outlook's CSV with a bad row: the good row is in, the bad one named.
    std::fs::write(dir.join("outlook.csv"), samples::outlook_csv()).unwrap();
    let (out, _) = import(db, dir, "outlook.csv", &[]);
    assert_eq!(out, "imported 1, merged 0, skipped 1\nskipped line 3: column 'Birthday': '31/31/1980' is not a date\n");

    // Clear failures.
    let o = run(&["export", "ada@contoso.test", "--folder", "Nope", "--format", "vcard", "--database", db], dir);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no folder named 'Nope'"), "{o:?}");
    std::fs::write(dir.join("x.txt"), "hello").unwrap();
    let o = run(&["import", "ada@contoso.test", "x.txt", "--database", db], dir);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("name it with --format"), "{o:?}");
}

/// `rolo users add --from` and `rolo import --manifest`: a whole organisation in two commands,
/// the same contacts as one `rolo import` per user, and all or nothing.
pub fn organisation_commands(db: &str, dir: &Path) {
    std::fs::write(dir.join("users.tsv"), "# upn, name\nbo@contoso.test\tBo\n\ncy@contoso.test\tCy\ndi@contoso.test\n")
        .unwrap();
    let o = run(&["users", "add", "--from", "users.tsv", "--database", db], dir);
    assert_success(&o, "users add --from");
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains("\tbo@contoso.test\tBo\n") && out.contains("\tdi@contoso.test\tdi@contoso.test\n"), "{out}");
    // A name taken (or repeated) adds nobody.
    std::fs::write(dir.join("again.tsv"), "ed@contoso.test\tEd\nBO@contoso.test\tBo\n").unwrap();
    let o = run(&["users", "add", "--from", "again.tsv", "--database", db], dir);
    assert!(!o.status.success(), "{o:?}");
    let listed = stdout(&run(&["users", "list", "--database", db], dir));
    assert!(!listed.contains("ed@contoso.test"), "{listed}");

    let first = [samples::apple(), samples::google()].concat();
    let second = [samples::outlook(), samples::thunderbird()].concat();
    std::fs::create_dir_all(dir.join("cards")).unwrap();
    std::fs::write(dir.join("cards/bo.vcf"), &first).unwrap();
    std::fs::write(dir.join("cards/cy.vcf"), &second).unwrap();
    std::fs::write(dir.join("manifest.tsv"), "bo@contoso.test\tcards/bo.vcf\nCY@contoso.test\tcards/cy.vcf\n").unwrap();
    // A line naming a missing file (or user) is refused before anything is written.
    std::fs::write(dir.join("broken.tsv"), "bo@contoso.test\tcards/bo.vcf\ndi@contoso.test\tcards/nope.vcf\n").unwrap();
    let o = run(&["import", "--manifest", "broken.tsv", "--database", db], dir);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file"), "{o:?}");
    let o = run(&["import", "--manifest", "manifest.tsv", "--database", db], dir);
    assert_success(&o, "import --manifest");
    assert_eq!(stdout(&o), "imported 4, merged 0, skipped 0 in 2 mailboxes\n");
    let export = |upn: &str| {
        let o = run(&["export", upn, "--format", "vcard", "--database", db], dir);
        assert_success(&o, "export");
        cards(&stdout(&o))
    };
    // The same contacts as `rolo import` of each file into a user of its own.
    std::fs::write(dir.join("first.vcf"), &first).unwrap();
    let o = run(&["import", "di@contoso.test", "first.vcf", "--bulk", "--database", db], dir);
    assert_success(&o, "import");
    assert_eq!(export("bo@contoso.test"), export("di@contoso.test"));
    assert_eq!(export("cy@contoso.test").len(), 2);
    // A re-run merges everything.
    let o = run(&["import", "--manifest", "manifest.tsv", "--database", db], dir);
    assert_eq!(stdout(&o), "imported 0, merged 4, skipped 0 in 2 mailboxes\n");
}
