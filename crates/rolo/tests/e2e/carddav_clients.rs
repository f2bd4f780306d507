//! Real CardDAV clients against the real server, on SQLite and PostgreSQL: `vdirsyncer` syncing a
//! local vdir with a Rolo address book both ways (creates, edits and deletes on each side, a
//! conflict, 1,000 contacts, a second sync with no changes that writes nothing), `khard` listing
//! the synced vdir and adding a card that the next sync uploads, and Graph writes showing up in vdirsyncer's next sync and the reverse.
//!
//! The clients come from a virtual environment, `clients/dav/.venv` (`.ci/run` makes it); without
//! it the test fails and says how to make it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::carddav::{dav_user, default_book, root};
use crate::common::TestServer;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

fn venv_bin(tool: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/dav/.venv/bin").join(tool);
    assert!(
        bin.exists(),
        "{} is missing. Create the CardDAV clients' virtual environment first:\n  \
         python3 -m venv clients/dav/.venv && clients/dav/.venv/bin/pip install -r clients/dav/requirements.txt\n\
         (`.ci/run` does this when it is missing)",
        bin.display()
    );
    bin
}

/// Runs a client tool with `args`, answering `y` to any question; returns stdout and stderr.
async fn run(tool: &str, args: &[&str], home: &Path) -> String {
    let mut cmd = Command::new(venv_bin(tool));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("PYTHONPATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {tool}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all("y\n".repeat(20).as_bytes()).await;
    }
    let out = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{tool} {args:?} still running after {CLIENT_TIMEOUT:?}"))
        .expect("output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{tool} {args:?} failed: {}\n{text}", out.status);
    text
}

fn vcard(uid: &str, given: &str, family: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{given} {family}\r\nN:{family};{given};;;\r\n\
         TEL;TYPE=cell:+1 555 0100\r\nEND:VCARD\r\n"
    )
}

/// The local vdir's cards: file name and content.
fn local_cards(vdir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(vdir)
        .expect("vdir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "vcf"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

fn find_local<'a>(cards: &'a [(String, String)], needle: &str) -> Option<&'a (String, String)> {
    cards.iter().find(|(_, c)| c.contains(needle))
}

async fn graph_contacts(s: &TestServer, token: &str) -> Vec<serde_json::Value> {
    let (items, _) = s.list_all("/me/contacts?$top=999&$select=givenName,surname", token, &[]).await;
    items
}

async fn vdirsyncer_both_ways(s: TestServer) {
    let (user, auth) = dav_user(&s, "vera@contoso.test").await;
    let password = {
        let encoded = auth.strip_prefix("Basic ").unwrap();
        let decoded =
            String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).unwrap())
                .unwrap();
        decoded.split_once(':').unwrap().1.to_owned()
    };
    let token = s.token(&user, "Contacts.ReadWrite");
    let book = default_book(&s, "vera@contoso.test", &auth).await;
    let from_graph = s.create_contact(&token, json!({"givenName": "Graham", "surname": "Fromgraph"})).await;

    let home = tempfile::tempdir().unwrap();
    let vdir = home.path().join("vdir");
    std::fs::create_dir_all(&vdir).unwrap();
    // 1,000 local cards, uploaded by the first sync.
    for i in 0..1000 {
        std::fs::write(
            vdir.join(format!("local-{i}.vcf")),
            vcard(&format!("local-{i}"), "Local", &format!("Person{i}")),
        )
        .unwrap();
    }
    let config = home.path().join("vdirsyncer.conf");
    std::fs::write(
        &config,
        format!(
            "[general]\nstatus_path = \"{status}\"\n\n[pair rolo]\na = \"local\"\nb = \"server\"\ncollections = null\n\
             conflict_resolution = \"a wins\"\n\n[storage local]\ntype = \"filesystem\"\npath = \"{vdir}\"\nfileext = \".vcf\"\n\n\
             [storage server]\ntype = \"carddav\"\nurl = \"{root}{book}\"\nusername = \"vera@contoso.test\"\npassword = \"{password}\"\n",
            status = home.path().join("status").display(),
            vdir = vdir.display(),
            root = root(&s),
        ),
    )
    .unwrap();
    let conf = config.to_str().unwrap();
    run("vdirsyncer", &["-c", conf, "discover"], home.path()).await;
    run("vdirsyncer", &["-c", conf, "sync"], home.path()).await;
    assert_eq!(graph_contacts(&s, &token).await.len(), 1001);
    let cards = local_cards(&vdir);
    assert_eq!(cards.len(), 1001);
    assert!(find_local(&cards, "FN:Graham Fromgraph").is_some());

    // A second sync with no change writes nothing, on either side.
    let before = s.store.change_state(&user.mailbox).await.unwrap();
    let out = run("vdirsyncer", &["-c", conf, "sync"], home.path()).await;
    assert!(!out.contains("Copying") && !out.contains("Deleting") && !out.contains("Updating"), "{out}");
    assert_eq!(s.store.change_state(&user.mailbox).await.unwrap(), before);
    assert_eq!(local_cards(&vdir), cards);

    // Local edit and delete reach Graph.
    std::fs::write(vdir.join("local-1.vcf"), vcard("local-1", "Edited", "Locally")).unwrap();
    std::fs::remove_file(vdir.join("local-2.vcf")).unwrap();
    run("vdirsyncer", &["-c", conf, "sync"], home.path()).await;
    let graph = graph_contacts(&s, &token).await;
    assert_eq!(graph.len(), 1000);
    assert!(graph.iter().any(|c| c["givenName"] == "Edited" && c["surname"] == "Locally"));
    assert!(!graph.iter().any(|c| c["surname"] == "Person2"));

    // Graph edit, create and delete reach the vdir.
    let r = s.patch(&format!("/me/contacts/{from_graph}"), &token, json!({"surname": "Patched"})).await;
    assert_eq!(r.status, 200);
    let created = s.create_contact(&token, json!({"givenName": "Newer", "surname": "Viagraph"})).await;
    let victim = graph.iter().find(|c| c["surname"] == "Person3").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(s.delete(&format!("/me/contacts/{victim}"), &token).await.status, 204);
    run("vdirsyncer", &["-c", conf, "sync"], home.path()).await;
    let cards = local_cards(&vdir);
    assert_eq!(cards.len(), 1000);
    assert!(find_local(&cards, "FN:Graham Patched").is_some());
    assert!(find_local(&cards, "FN:Newer Viagraph").is_some(), "{created}");
    assert!(find_local(&cards, "Person3\r\n").is_none() && !vdir.join("local-3.vcf").exists());

    // A conflict: both sides edit one card; the configured side (the vdir) wins everywhere.
    std::fs::write(vdir.join("local-4.vcf"), vcard("local-4", "Local", "Winner")).unwrap();
    let id4 = graph.iter().find(|c| c["surname"] == "Person4").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(s.patch(&format!("/me/contacts/{id4}"), &token, json!({"surname": "Loser"})).await.status, 200);
    run("vdirsyncer", &["-c", conf, "sync"], home.path()).await;
    let c4 = s.get(&format!("/me/contacts/{id4}"), &token).await;
    assert_eq!(c4.body["surname"], "Winner", "{}", c4.text);
    assert!(std::fs::read_to_string(vdir.join("local-4.vcf")).unwrap().contains("Winner"));

    // khard lists the synced vdir.
    let khard_conf = home.path().join("khard.conf");
    std::fs::write(
        &khard_conf,
        format!(
            "[addressbooks]\n[[rolo]]\npath = {}\n\n[general]\ndefault_action = list\neditor = /bin/true\nmerge_editor = /bin/true\n",
            vdir.display()
        ),
    )
    .unwrap();
    let listing = run("khard", &["-c", khard_conf.to_str().unwrap(), "list", "Viagraph"], home.path()).await;
    assert!(listing.contains("Newer Viagraph"), "{listing}");
    let all = run("khard", &["-c", khard_conf.to_str().unwrap(), "list", "--parsable"], home.path()).await;
    assert_eq!(all.lines().filter(|l| !l.trim().is_empty()).count(), 1000, "{all}");
    // A card khard writes into the vdir goes up with the next sync.
    let template = home.path().join("new.yaml");
    std::fs::write(&template, "First name : Kay\nLast name : Fromkhard\n").unwrap();
    run(
        "khard",
        &["-c", khard_conf.to_str().unwrap(), "new", "-a", "rolo", "-i", template.to_str().unwrap()],
        home.path(),
    )
    .await;
    assert_eq!(local_cards(&vdir).len(), 1001);
    run("vdirsyncer", &["-c", conf, "sync"], home.path()).await;
    let graph = graph_contacts(&s, &token).await;
    assert_eq!(graph.len(), 1001);
    let kay: Vec<_> = graph.iter().filter(|c| c["surname"] == "Fromkhard").collect();
    assert_eq!(kay.len(), 1, "{kay:?}");
    assert_eq!(kay[0]["givenName"], "Kay");
}

both_backends!(vdirsyncer_both_ways);
