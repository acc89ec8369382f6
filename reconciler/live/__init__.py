"""Read live state from the Amazon Ads API: `read` (what the manifests manage, or everything
for import), `session` (the client a command talks through), `progress` (the progress line)."""
