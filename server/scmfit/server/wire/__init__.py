"""The protocol edge: proto in, checked domain jobs; domain outcomes, proto out; the servicer."""
