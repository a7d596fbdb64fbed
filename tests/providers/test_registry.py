import providers.base


def test_x():
    print(providers.base.__file__)
