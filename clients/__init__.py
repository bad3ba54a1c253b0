"""Reference clients of the fieldvisit API (not shipped in the server package)."""
