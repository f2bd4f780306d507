//! Feeds arbitrary bytes to the CSV reader in both column sets: nothing may panic, and the rows
//! it accepts, written back out, read again as as many good rows.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rolo_domain::vcard::{self, csv, Format};

fuzz_target!(|data: &[u8]| {
    let text = vcard::decode_bytes(data);
    for format in [Format::OutlookCsv, Format::GoogleCsv] {
        let good: Vec<_> = vcard::read(&text, format).into_iter().flatten().collect();
        let written = csv::write(&good.iter().map(|r| &r.data).collect::<Vec<_>>(), format);
        let again = vcard::read(&written, format);
        assert_eq!(again.len(), good.len(), "{written}");
        assert!(again.iter().all(Result::is_ok), "{written}");
    }
});
