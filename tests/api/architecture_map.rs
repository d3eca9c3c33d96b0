//! `docs/ARCHITECTURE.md` is the map a newcomer reads first: every top-level folder and file of
//! `src/` has a line in its code map, so a new one cannot be added without saying where it fits.

use std::path::Path;

#[test]
fn every_top_level_folder_and_file_of_src_is_on_the_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let code_map = map.split("## Code map").nth(1).expect("a \"## Code map\" section").split("\n## ").next();
    let code_map = code_map.unwrap_or_default();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("src")).expect("src/") {
        let entry = entry.expect("an entry of src/");
        let name = entry.file_name().to_string_lossy().into_owned();
        let shown = if entry.path().is_dir() { format!("`{name}/`") } else { format!("`{name}`") };
        if !code_map.contains(&shown) {
            missing.push(shown);
        }
    }
    missing.sort();
    assert!(missing.is_empty(), "docs/ARCHITECTURE.md's code map has no line for {}", missing.join(", "));
}
