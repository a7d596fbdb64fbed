"""The offline local engine: border keying, GrabCut fallback and trimap matting."""
